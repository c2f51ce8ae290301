"""Webhook bodies exactly as Sonarr v4 and Radarr v5 send them (for the webhook tests).

Built from the apps' ``NzbDrone.Core.Notifications.Webhook`` payload classes
(Sonarr 49df353, Radarr 1b9662d): Newtonsoft with camel-case property names,
string enums in camel case except ``eventType`` (its own spelling), nulls
left out.  Sonarr's ImportComplete goes out with ``eventType: "Download"``.
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any

SONARR_SERIES: dict[str, Any] = {
    "id": 7, "title": "Frieren: Beyond Journey's End", "titleSlug": "frieren-beyond-journeys-end",
    "path": "/tv/Frieren", "tvdbId": 424536, "tvMazeId": 68130, "tmdbId": 209867,
    "imdbId": "tt22248376", "malIds": [52991], "aniListIds": [154587], "type": "anime",
    "year": 2023, "genres": ["Adventure", "Animation", "Anime", "Fantasy"],
    "images": [{"coverType": "poster", "url": "/MediaCover/7/poster.jpg?lastWrite=6384",
                "remoteUrl": "https://artworks.thetvdb.com/banners/v4/series/424536/posters/1.jpg"}],
    "tags": ["anime"], "originalLanguage": {"id": 8, "name": "Japanese"},
    "originalCountry": "jp",
}
RELEASE: dict[str, Any] = {"releaseTitle": "[SubsPlease] Sousou no Frieren - 01 (1080p)",
                           "indexer": "Nyaa", "size": 1_435_224_064, "indexerFlags": [],
                           "releaseType": "singleEpisode"}


def episode(n: int) -> dict[str, Any]:
    """A WebhookEpisode."""
    return {"id": 300 + n, "episodeNumber": n, "seasonNumber": 1, "title": f"Episode {n}",
            "overview": "The party returns.", "airDate": "2023-09-29",
            "airDateUtc": "2023-09-29T14:00:00Z", "seriesId": 7, "tvdbId": 9797100 + n}


def episode_file(file_id: int, relative: str, series_path: str = "/tv/Frieren",
                 audio: tuple[str, ...] = ("eng", "jpn")) -> dict[str, Any]:
    """A WebhookEpisodeFile (path = series path + relativePath, as Sonarr builds it)."""
    return {"id": file_id, "relativePath": relative,
            "path": posixpath.join(series_path, relative), "quality": "WEBDL-1080p",
            "qualityVersion": 1, "releaseGroup": "SubsPlease",
            "sceneName": "[SubsPlease] Sousou no Frieren - 01 (1080p)", "size": 1_435_224_064,
            "dateAdded": "2024-03-02T19:04:11.4417761Z",
            "languages": [{"id": 8, "name": "Japanese"}],
            "mediaInfo": {"audioChannels": 2.0, "audioCodec": "AAC",
                          "audioLanguages": list(audio), "height": 1080, "width": 1920,
                          "subtitles": ["eng"], "videoCodec": "h264", "videoDynamicRange": "",
                          "videoDynamicRangeType": ""}}


def sonarr_download(relative: str = "Season 01/Frieren - S01E01.mkv", file_id: int = 101,
                    download_id: str = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
                    series_path: str = "/tv/Frieren", original: str | None = "Japanese",
                    upgrade: bool = False) -> dict[str, Any]:
    """A WebhookImportPayload (On Import / On Upgrade)."""
    series = copy.deepcopy(SONARR_SERIES)
    series["path"] = series_path
    if original is None:
        del series["originalLanguage"]
    else:
        series["originalLanguage"] = {"id": 8, "name": original}
    ep_file = episode_file(file_id, relative, series_path)
    ep_file["sourcePath"] = f"/downloads/complete/{posixpath.basename(relative)}"
    body: dict[str, Any] = {
        "series": series, "episodes": [episode(1)], "episodeFile": ep_file,
        "release": RELEASE, "isUpgrade": upgrade, "downloadClient": "qBittorrent",
        "downloadClientType": "qBittorrent", "downloadId": download_id,
        "customFormatInfo": {"customFormats": [], "customFormatScore": 0},
        "eventType": "Download", "instanceName": "Sonarr", "applicationUrl": "",
    }
    if upgrade:
        old = episode_file(file_id - 1, relative, series_path)
        old["recycleBinPath"] = "/recycle/Frieren - S01E01.mkv"
        body["deletedFiles"] = [old]
    return body


def sonarr_import_complete(files: list[tuple[int, str]],
                           download_id: str = "B1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
                           series_path: str = "/tv/Frieren") -> dict[str, Any]:
    """A WebhookImportCompletePayload (On Import Complete): eventType is Download too."""
    series = copy.deepcopy(SONARR_SERIES)
    series["path"] = series_path
    ep_files = [episode_file(fid, rel, series_path) for fid, rel in files]
    return {
        "series": series, "episodes": [episode(i + 1) for i in range(len(files))],
        "episodeFiles": ep_files, "downloadClient": "qBittorrent",
        "downloadClientType": "qBittorrent", "downloadId": download_id,
        "release": {**RELEASE, "releaseType": "seasonPack"}, "fileCount": len(files),
        "sourcePath": "/downloads/complete/[SubsPlease] Sousou no Frieren (Season 1)",
        "destinationPath": posixpath.join(series_path, "Season 01"),
        "eventType": "Download", "instanceName": "Sonarr", "applicationUrl": "",
    }


def sonarr_test() -> dict[str, Any]:
    """What Sonarr's Test button sends (BuildTestPayload: a Grab payload)."""
    return {"series": {"id": 1, "title": "Test Title", "path": "C:\\testpath", "tvdbId": 1234,
                       "tvMazeId": 0, "tmdbId": 0, "type": "standard", "year": 0,
                       "tags": ["test-tag"]},
            "episodes": [{"id": 123, "episodeNumber": 1, "seasonNumber": 1,
                          "title": "Test title", "seriesId": 0, "tvdbId": 0}],
            "eventType": "Test", "instanceName": "Sonarr", "applicationUrl": ""}


def radarr_download(relative: str = "Spirited Away (2001) Bluray-1080p.mkv",
                    folder: str = "/movies/Spirited Away (2001)", file_id: int = 55,
                    download_id: str = "C1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
                    original: str | None = "Japanese") -> dict[str, Any]:
    """Radarr's WebhookImportPayload (On Import)."""
    movie: dict[str, Any] = {
        "id": 12, "title": "Spirited Away", "year": 2001, "releaseDate": "2002-07-09",
        "folderPath": folder, "tmdbId": 129, "imdbId": "tt0245429",
        "overview": "A young girl, Chihiro, becomes trapped in a strange new world of spirits.",
        "genres": ["Animation", "Family", "Fantasy"],
        "images": [{"coverType": "poster", "url": "/MediaCover/12/poster.jpg",
                    "remoteUrl": "https://image.tmdb.org/t/p/original/39wmItIWsg5sZMyRUHLkWBcuVCM.jpg"}],
        "tags": [],
    }
    if original is not None:
        movie["originalLanguage"] = {"id": 8, "name": original}
    return {
        "movie": movie,
        "remoteMovie": {"tmdbId": 129, "imdbId": "tt0245429", "title": "Spirited Away",
                        "year": 2001},
        "movieFile": {"id": file_id, "relativePath": relative,
                      "path": posixpath.join(folder, relative), "quality": "Bluray-1080p",
                      "qualityVersion": 1, "releaseGroup": "GROUP",
                      "sceneName": "Spirited.Away.2001.1080p.BluRay.x264-GROUP",
                      "indexerFlags": "0", "size": 8_589_934_592,
                      "dateAdded": "2024-03-02T19:04:11Z",
                      "languages": [{"id": 8, "name": "Japanese"}, {"id": 1, "name": "English"}],
                      "mediaInfo": {"audioChannels": 5.1, "audioCodec": "DTS",
                                    "audioLanguages": ["eng", "jpn"], "height": 1080,
                                    "width": 1920, "subtitles": ["eng"], "videoCodec": "x264",
                                    "videoDynamicRange": "", "videoDynamicRangeType": ""},
                      "sourcePath": "/downloads/complete/Spirited.Away.2001.1080p.BluRay.x264-GROUP"},
        "release": {"releaseTitle": "Spirited.Away.2001.1080p.BluRay.x264-GROUP",
                    "indexer": "Some Indexer", "size": 8_589_934_592, "indexerFlags": []},
        "isUpgrade": False, "downloadClient": "qBittorrent", "downloadClientType": "qBittorrent",
        "downloadId": download_id,
        "customFormatInfo": {"customFormats": [], "customFormatScore": 0},
        "eventType": "Download", "instanceName": "Radarr", "applicationUrl": "",
    }


def radarr_test() -> dict[str, Any]:
    """What Radarr's Test button sends."""
    return {"movie": {"id": 1, "title": "Test Title", "year": 1970, "releaseDate": "1970-01-01",
                      "folderPath": "C:\\testpath", "tmdbId": 0, "tags": ["test-tag"]},
            "remoteMovie": {"tmdbId": 1234, "imdbId": "5678", "title": "Test title",
                            "year": 1970},
            "release": {"quality": "Test Quality", "qualityVersion": 1,
                        "releaseGroup": "Test Group", "releaseTitle": "Test Title",
                        "indexer": "Test Indexer", "size": 9999999},
            "eventType": "Test", "instanceName": "Radarr", "applicationUrl": ""}
